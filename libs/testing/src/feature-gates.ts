// kube-apiserver's --feature-gates flag from a map, so a test names the gates
// it needs instead of assembling the flag by hand, and the gates every local
// plane starts with (the tests', `npm run cluster`'s and `npm run dev`'s).

/**
 * The gates a local plane has unless its caller says otherwise:
 * ShardedListAndWatch (alpha since 1.36, off by default in kube-apiserver), so
 * that sharded replicas filter on the server (docs/decisions/0010-shards.md).
 */
export const DEFAULT_FEATURE_GATES: Readonly<Record<string, boolean>> = Object.freeze({ ShardedListAndWatch: true });

/**
 * The caller's gates over {@link DEFAULT_FEATURE_GATES}: a gate the caller names
 * wins (`{ ShardedListAndWatch: false }` starts a plane without it); the others stay.
 */
export function planeFeatureGates(gates: Readonly<Record<string, boolean>> = {}): Record<string, boolean> {
  return { ...DEFAULT_FEATURE_GATES, ...gates };
}

/** `--feature-gates=A=true,B=false`, names sorted so the same gates make the same flag; no flag for no gates. */
export function featureGatesArgs(gates: Readonly<Record<string, boolean>> = {}): string[] {
  const names = Object.keys(gates).sort();
  for (const name of names) {
    // A comma or `=` in a name would silently turn into another gate.
    if (!/^[A-Za-z0-9]+$/.test(name)) throw new Error(`not a feature gate name: ${JSON.stringify(name)}`);
  }
  return names.length === 0 ? [] : [`--feature-gates=${names.map((n) => `${n}=${gates[n]}`).join(',')}`];
}
