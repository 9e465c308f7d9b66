// Every setting an ekspose controller reads: the Deployment-side settings
// (libs/labels) and the process settings (libs/k8s), read as one so that a
// failed start lists every problem and --help lists every variable.
import { type ExposeSettings, type ProcessFacts, combineSettings, exposeSettings } from '@ekspose/labels';
import { type ProcessSettings, processSettings } from '@ekspose/k8s';

export type Settings = ExposeSettings & ProcessSettings;

export const SETTINGS = combineSettings(exposeSettings, processSettings);

/** Every env var an ekspose controller reads, in the order --help lists them. */
export const SETTINGS_ENV_VARS: readonly string[] = SETTINGS.help.map((h) => h.env);

export function loadSettings(env: Record<string, string | undefined>, facts: ProcessFacts = {}) {
  return SETTINGS.load(env, facts);
}
