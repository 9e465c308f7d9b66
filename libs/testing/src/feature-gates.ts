// kube-apiserver's --feature-gates flag from a map, so a test names the gates
// it needs (ShardedListAndWatch, an alpha gate off by default) instead of
// assembling the flag by hand.

/** `--feature-gates=A=true,B=false`, names sorted so the same gates make the same flag; no flag for no gates. */
export function featureGatesArgs(gates: Readonly<Record<string, boolean>> = {}): string[] {
  const names = Object.keys(gates).sort();
  for (const name of names) {
    // A comma or `=` in a name would silently turn into another gate.
    if (!/^[A-Za-z0-9]+$/.test(name)) throw new Error(`not a feature gate name: ${JSON.stringify(name)}`);
  }
  return names.length === 0 ? [] : [`--feature-gates=${names.map((n) => `${n}=${gates[n]}`).join(',')}`];
}
