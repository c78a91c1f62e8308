/**
 * The text with every echo of `secret` replaced by `label`: a provider's error naming the admin key a run
 * sent (src/connections), a server or proxy echoing the bearer token the CLI sent (src/cli/http.ts).
 * Secrets here are printable ASCII without spaces, and characters such as `+ / = %` change when a server
 * or proxy echoes them percent-encoded (encodeURIComponent, form encoding — the same, a secret having no
 * spaces —, every character, upper- or lower-case hex) or JSON-escaped in a body kept as text (`"`, `\`,
 * `/` as `\/`). Each of those whole-secret forms is replaced as the literal one is: plain string matches,
 * linear in the text, whatever secret is set. Redact before cutting a text short: a cut through the
 * secret would keep its first characters.
 */
export const redact = (text: string, secret: string, label: string) =>
  secret.length >= 4 ? echoes(secret).reduce((t, form) => t.split(form).join(label), text) : text

const lowerHex = (encoded: string) => encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())

/** The forms of the secret a server may echo, longest first (so that no shorter one cuts a longer one). */
function echoes(secret: string): string[] {
  const component = encodeURIComponent(secret)
  const form = new URLSearchParams({ k: secret }).toString().slice(2)
  const every = [...secret].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('')
  const json = JSON.stringify(secret).slice(1, -1)
  const forms = [secret, component, form, every, json, json.replaceAll('/', '\\/')].flatMap((f) => [f, lowerHex(f)])
  return [...new Set(forms)].sort((a, b) => b.length - a.length)
}
