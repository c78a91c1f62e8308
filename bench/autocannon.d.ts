// Minimal types for the parts of autocannon the benchmarks use (no @types/autocannon is installed).
declare module 'autocannon' {
  interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }
  interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    duration?: number
    amount?: number
    requests?: { setupRequest?: (req: Request) => Request }[]
  }
  interface Histogram {
    average: number
    p50: number
    p90: number
    p99: number
    max: number
  }
  interface Result {
    '2xx': number
    non2xx: number
    errors: number
    timeouts: number
    requests: Histogram & { total: number }
    latency: Histogram
  }
  function autocannon(opts: Options): Promise<Result>
  export default autocannon
}
