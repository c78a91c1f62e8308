import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { problems } from '../errors.js'
import { createSecretBox, loadSecretKey, SECRET_KEY_MISSING, type SecretBox } from './secret-box.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Seals secrets the server must use again (webhook secrets, provider keys); undefined when no key is configured. */
    secretBox: SecretBox | undefined
    /** The secret box, or the 409 problem that says what to set. */
    requireSecretBox: () => SecretBox
  }
}

export default fp(
  async (app, opts: { config: Config }) => {
    const key = loadSecretKey({
      configured: opts.config.TOKENLEDGER_SECRET_KEY,
      postgres: opts.config.DATABASE_URL !== undefined,
      dataDir: opts.config.DATA_DIR,
    })
    const box = key ? createSecretBox(key) : undefined
    app.decorate('secretBox', box)
    app.decorate('requireSecretBox', () => {
      if (!box) throw problems.conflict(SECRET_KEY_MISSING)
      return box
    })
  },
  { name: 'secrets' },
)
