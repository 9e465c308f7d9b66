// The LeaseStore on a coordination.k8s.io/v1 Lease: 404 is "no Lease", 409 a
// lost race (LeaseConflictError); MicroTime fields are sent with microseconds.
import { V1MicroTime } from '@kubernetes/client-node';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { statusCodeOf } from '../api/api-errors';
import { type LeaseRecord, type LeaseStore, LeaseConflictError } from './lease-record';

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return new Date(value.getTime());
  // The generated deserializer leaves MicroTime fields as strings.
  if (typeof value === 'string' && value !== '') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** MicroTime must be sent with microseconds; V1MicroTime serialises that way, a plain Date does not. */
function toMicroTime(date: Date | undefined): V1MicroTime | undefined {
  return date ? new V1MicroTime(date.getTime()) : undefined;
}

export function leaseRecordFromLease(lease: V1Lease): LeaseRecord {
  return {
    holderIdentity: lease.spec?.holderIdentity,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    acquireTime: toDate(lease.spec?.acquireTime),
    renewTime: toDate(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

export function leaseFromRecord(namespace: string, name: string, record: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: toMicroTime(record.acquireTime),
      renewTime: toMicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

export function kubernetesLeaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  const conflict = (error: unknown, what: string) =>
    statusCodeOf(error) === 409 ? new LeaseConflictError(`lease ${namespace}/${name}: ${what}`, { cause: error }) : error;
  return {
    async get() {
      try {
        return leaseRecordFromLease(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (statusCodeOf(error) === 404) return null;
        throw error;
      }
    },
    async create(record) {
      try {
        const body = leaseFromRecord(namespace, name, { ...record, resourceVersion: undefined });
        return leaseRecordFromLease(await api.createNamespacedLease({ namespace, body }));
      } catch (error) {
        throw conflict(error, 'already exists');
      }
    },
    async update(record) {
      try {
        const body = leaseFromRecord(namespace, name, record);
        return leaseRecordFromLease(await api.replaceNamespacedLease({ name, namespace, body }));
      } catch (error) {
        throw conflict(error, 'changed since read');
      }
    },
  };
}

