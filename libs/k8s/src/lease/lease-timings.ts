// The Lease timings' defaults, client-go's: settings parse them, the elections use them.
export const DEFAULT_LEASE_DURATION_SECONDS = 15;
export const DEFAULT_LEASE_RENEW_DEADLINE_SECONDS = 10;
/** client-go's cadence (15/10/2): an idle leader renews every 2 s (1 s made 176 Lease writes a minute for three leaders, 2 s makes 90). */
export const DEFAULT_LEASE_RETRY_PERIOD_SECONDS = 2;
