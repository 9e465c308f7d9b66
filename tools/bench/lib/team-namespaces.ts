// Teams and environments, as namespaces are named in a shared cluster. They differ early in the name,
// as real names do; names that differ only at the end (`tenant-000`…) cluster under FNV-1a (0010).
const TEAMS = (
  'shop billing search auth media mail chat maps docs ads pay feed checkout catalog cart orders inventory shipping ' +
  'returns reviews pricing promo loyalty identity profile notify analytics metrics logging tracing gateway edge images ' +
  'video audio upload storage backup fraud risk ledger invoices tax support crm sales marketing partners onboarding ' +
  'recommend experiments'
).split(' ');
const ENVS = ['prod', 'staging', 'dev', 'qa'];

/** `<team>-<env>`: each team in every environment before the next team; past teams x envs, a `-2`, `-3`… suffix. */
export function namespaceNames(m: number): string[] {
  return Array.from({ length: m }, (_, i) => {
    const team = TEAMS[Math.floor(i / ENVS.length) % TEAMS.length]!;
    const round = Math.floor(i / (ENVS.length * TEAMS.length));
    return `${team}-${ENVS[i % ENVS.length]!}${round > 0 ? `-${round + 1}` : ''}`;
  });
}
