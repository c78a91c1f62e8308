import { anthropic } from './anthropic.js'
import { openai } from './openai.js'
import type { ProviderModule } from './provider.js'

export const PROVIDERS = { openai, anthropic } as const satisfies Record<string, ProviderModule>
export type ProviderName = keyof typeof PROVIDERS
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[]

export function endpointNames(provider: ProviderName): string[] {
  return PROVIDERS[provider].endpoints.map((e) => e.name)
}
