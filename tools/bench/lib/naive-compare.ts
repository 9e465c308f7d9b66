// The baselines: what a controller without per-field drift logic could do on
// the client side to decide whether to write. Both are generic; neither knows
// which fields ekspose owns.

/** JSON.stringify with object keys sorted at every level (a generic deep-equal key). */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** RFC 7386 JSON merge patch, applied in place to `target`; returns the result. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = (target && typeof target === 'object' && !Array.isArray(target) ? target : {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

/**
 * "Would sending the desired object as a merge patch change the live one?":
 * deep-copy the live object, merge the whole desired object into it, and
 * deep-compare the result with the live object through sorted JSON. Correct
 * (server defaults and other tools' fields survive the merge), but it copies
 * and serialises every object twice per resync.
 */
export function mergeCompareWouldWrite(live: unknown, desired: unknown): boolean {
  const merged = applyMergePatch(structuredClone(live), desired);
  return stableStringify(merged) !== stableStringify(live);
}

/**
 * The cheapest generic compare: the whole desired object against the whole
 * live one. Wrong for a controller: server defaults, status and managedFields
 * always differ, so it writes every object on every resync.
 */
export function wholeObjectWouldWrite(live: unknown, desired: unknown): boolean {
  return stableStringify(desired) !== stableStringify(live);
}
