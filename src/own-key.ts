/**
 * `table[key]` for a key from outside (a resource, a result `object`, a `group_by` name, a cost type),
 * reading the table's own entries only: `constructor`, `__proto__` or `toString` must not find
 * Object's members (a resource named `constructor` broke the costs mirror mid-response).
 */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}
