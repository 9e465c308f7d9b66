// Patch-on-diff: compare only the fields ekspose owns, and produce the JSON
// merge patch that corrects them, or null when the live object is already
// right (a resync of a correct cluster must write nothing). Labels and
// annotations other tools add are never touched; the patch carries the live
// resourceVersion so a concurrent change makes it fail with 409 instead of
// being overwritten.
import type { V1Ingress, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import { ANNOTATION_OWNED_ANNOTATIONS } from '@ekspose/labels';

export type MergePatch = Record<string, unknown>;

/** Stable JSON: object keys sorted, undefined dropped, so equal content compares equal. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

function sameRef(a: V1OwnerReference, b: V1OwnerReference): boolean {
  return a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name && a.uid === b.uid && a.controller === b.controller;
}

interface MetaLike {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
  resourceVersion?: string;
}

/**
 * The annotations ekspose passes on: set the wanted ones, remove (null) the
 * ones it set before (listed in ANNOTATION_OWNED_ANNOTATIONS) and no longer
 * wants, never touch the others.
 */
function annotationsPatch(live: Record<string, string>, want: Record<string, string>): Record<string, string | null> | null {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(want)) if (live[key] !== value) patch[key] = value;
  const before = (live[ANNOTATION_OWNED_ANNOTATIONS] ?? '').split(',').filter(Boolean);
  for (const key of [...before, ANNOTATION_OWNED_ANNOTATIONS]) if (key in live && !(key in want)) patch[key] = null;
  return Object.keys(patch).length > 0 ? patch : null;
}

/** Owned labels present and ours the one controller reference; other owners' refs kept. */
export function metadataPatch(live: MetaLike | undefined, desired: MetaLike | undefined): MergePatch | null {
  const patch: MergePatch = {};
  const wantLabels = desired?.labels ?? {};
  const missing = Object.entries(wantLabels).filter(([k, v]) => live?.labels?.[k] !== v);
  if (missing.length > 0) patch.labels = Object.fromEntries(missing);

  const annotations = annotationsPatch(live?.annotations ?? {}, desired?.annotations ?? {});
  if (annotations) patch.annotations = annotations;

  const ours = desired?.ownerReferences?.find((r) => r.controller) as V1OwnerReference;
  const liveRefs = live?.ownerReferences ?? [];
  const controllers = liveRefs.filter((r) => r.controller);
  if (!(controllers.length === 1 && sameRef(controllers[0]!, ours))) {
    patch.ownerReferences = [...liveRefs.filter((r) => !r.controller), ours];
  }
  return Object.keys(patch).length > 0 ? patch : null;
}

export function withMetadata(live: MetaLike | undefined, meta: MergePatch | null, spec: MergePatch): MergePatch | null {
  if (!meta && Object.keys(spec).length === 0) return null;
  const patch: MergePatch = { metadata: { ...(meta ?? {}), resourceVersion: live?.resourceVersion } };
  if (Object.keys(spec).length > 0) patch.spec = spec;
  return patch;
}

/** A merge patch that sets the selector to exactly `want` (nulls delete extra keys). */
function exactMapPatch(live: Record<string, string> | undefined, want: Record<string, string>): Record<string, string | null> {
  const out: Record<string, string | null> = { ...want };
  for (const key of Object.keys(live ?? {})) if (!(key in want)) out[key] = null;
  return out;
}

function portView(p: { name?: string; protocol?: string; port?: number; targetPort?: unknown }) {
  return { name: p.name, protocol: p.protocol ?? 'TCP', port: p.port, targetPort: p.targetPort ?? p.port };
}

export function serviceDrift(live: V1Service, desired: V1Service): MergePatch | null {
  const spec: MergePatch = {};
  const want = desired.spec!;
  if ((live.spec?.type ?? 'ClusterIP') !== want.type) spec.type = want.type;
  if (canonical(live.spec?.selector ?? {}) !== canonical(want.selector ?? {})) {
    spec.selector = exactMapPatch(live.spec?.selector, want.selector ?? {});
  }
  const livePorts = (live.spec?.ports ?? []).map(portView);
  const wantPorts = (want.ports ?? []).map(portView);
  // Merge patch replaces the whole list: ekspose owns the Service's ports.
  if (canonical(livePorts) !== canonical(wantPorts)) spec.ports = want.ports;
  return withMetadata(live.metadata, metadataPatch(live.metadata, desired.metadata), spec);
}

export function ingressDrift(live: V1Ingress, desired: V1Ingress): MergePatch | null {
  const spec: MergePatch = {};
  const want = desired.spec!;
  // Without a class of our own we accept whatever the cluster defaulted
  // (the DefaultIngressClass admission plugin sets one on create).
  if (want.ingressClassName && live.spec?.ingressClassName !== want.ingressClassName) {
    spec.ingressClassName = want.ingressClassName;
  }
  if (canonical(live.spec?.rules ?? []) !== canonical(want.rules ?? [])) spec.rules = want.rules;
  if (canonical(live.spec?.tls ?? []) !== canonical(want.tls ?? [])) spec.tls = want.tls ?? null;
  return withMetadata(live.metadata, metadataPatch(live.metadata, desired.metadata), spec);
}
