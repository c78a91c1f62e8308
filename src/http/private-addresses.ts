import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { Agent } from 'undici'

/**
 * Addresses a tenant-supplied URL (a budget's webhook) must not reach unless the operator allows it:
 * loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, unspecified,
 * multicast and reserved ranges — IANA's special-purpose ranges that are not globally reachable, and the
 * IPv6 forms that carry an IPv4 address to a translator or relay (NAT64, SIIT, 6to4, Teredo). A tenant key could otherwise make the server POST into its own network
 * (the database port, an admin API) and read the outcome back from the delivery log.
 */
const PRIVATE = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['192.0.2.0', 24], // documentation (TEST-NET-1, -2, -3)
  ['192.88.99.0', 24], // the deprecated 6to4 relay anycast
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3], // multicast, reserved and broadcast
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4')
// IPv4-mapped addresses (::ffff:a.b.c.d) are checked against the IPv4 rules by BlockList itself.
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d (::7f00:1 is ::127.0.0.1)
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT): a translator reaches ::ffff:0:a.b.c.d at a.b.c.d
  ['64:ff9b::', 96], // NAT64: reaches the IPv4 address in its last 32 bits
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): the same, inside one network
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments: Teredo (2001::/32) carries an IPv4 address, benchmarking, ORCHID
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: a relay reaches the IPv4 address in bits 16–47 (2002:7f00:1:: is 127.0.0.1's)
  ['3fff::', 20], // documentation
  ['5f00::', 16], // SRv6 segment identifiers
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6')

/** Whether `address` (an IP literal, IPv6 with or without brackets) is in a private or reserved range. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const family = isIP(ip)
  return family !== 0 && PRIVATE.check(ip, family === 6 ? 'ipv6' : 'ipv4')
}

/** The URL's host when it names a private address outright (an IP literal or `localhost`), else undefined. */
export function privateHostOf(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined
  const host = new URL(url).hostname.toLowerCase()
  const bare = host.endsWith('.') ? host.slice(0, -1) : host
  return isPrivateAddress(host) || bare === 'localhost' || bare.endsWith('.localhost') ? host : undefined
}

/**
 * Why `url` (tenant input: a webhook, a connection's base_url) may not be stored for the server to call —
 * it names a private host outright — or undefined. A name that resolves to one is refused when called.
 */
export function privateUrlProblem(url: unknown, allowPrivate: boolean): string | undefined {
  const host = typeof url === 'string' && !allowPrivate ? privateHostOf(url) : undefined
  return host && `${host} is a private or reserved address; the server calls public addresses only unless OUTBOUND_PRIVATE_ADDRESSES=allow`
}

/**
 * The message names the host, not the address it resolved to: it reaches the tenant who configured the URL
 * (a delivery's or a sync's error), and which internal address a name resolves to is the server's network's
 * business, not a map for tenants to draw.
 */
export class PrivateAddressError extends Error {
  readonly code = 'PRIVATE_ADDRESS'
  constructor(host: string) {
    super(`${host} resolves to a private or reserved address`)
  }
}

/**
 * A `lookup` for node:http(s) that refuses private addresses. The check runs on the addresses the socket
 * then connects to, so a name that resolves to a public address when checked and a private one when
 * connecting (DNS rebinding) cannot get through.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0)
    const blocked = addresses.find((a) => isPrivateAddress(a.address))
    if (blocked) return callback(new PrivateAddressError(hostname), '', 0)
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
    const first = addresses[0]!
    callback(null, first.address, first.family)
  })
}

/**
 * A dispatcher for `fetch` whose connections go through publicOnlyLookup (a provider connection's
 * base_url). fetch does not look up an IP literal: check privateHostOf first.
 */
export const publicOnlyAgent = new Agent({ connect: { lookup: publicOnlyLookup } })
