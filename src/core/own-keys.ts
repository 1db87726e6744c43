/**
 * Records keyed by client input. Plain assignment `out[key] = value` treats "__proto__" as the prototype
 * setter: the key silently vanishes (or swaps the object's prototype). Every copy of client-supplied keys
 * goes through `setOwn` or `Object.fromEntries` (which defines own properties), never through assignment.
 */

/** Sets an own enumerable property, whatever the key (including "__proto__"). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
