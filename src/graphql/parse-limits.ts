import type { ParseOptions } from 'graphql'

/**
 * What one query text may cost the parser and the cache, whatever BODY_LIMIT allows: graphql-js stops
 * after `maxTokens` tokens (comments and whitespace are not tokens), so a megabytes-long text is refused
 * after a bounded amount of work instead of being lexed and parsed in full on the event loop. GraphiQL's
 * introspection query has under 200 tokens, and an operation may select at most 1,000 fields anyway.
 */
export const PARSE_OPTIONS = { maxTokens: 5_000 } satisfies ParseOptions

/**
 * Parsed (and compiled) queries mercurius keeps, by text, in each of its two LRU caches (valid queries
 * and validation failures): quick-lru holds up to twice this many per cache, so a client sending ever new
 * texts cannot grow memory past ~400 documents, while the few query shapes clients repeat stay cached.
 */
export const DOCUMENT_CACHE_SIZE = 100
