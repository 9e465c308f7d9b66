export { EventBus } from './event-bus';
export type {
  DeletionAnswer,
  ExposedObject,
  ExposureAnswer,
  EventBusOptions,
  EventBusStatus,
  EventHandler,
  EventMeta,
  PublishOptions,
  PublishResult,
} from './event-bus';
export {
  decodeEvent,
  deploymentDeletedSchema,
  deploymentExposedSchema,
  EVENT_SCHEMAS,
  ingressRecreatedSchema,
  InvalidEventError,
  serviceRecreatedSchema,
  validateEvent,
} from './schemas';
export type {
  DecodeResult,
  DeploymentDeleted,
  DeploymentExposed,
  EventInput,
  EventPayload,
  EventPayloads,
  IngressRecreated,
  ServiceRecreated,
} from './schemas';
export {
  decodeToken,
  encodeToken,
  EVENT_KINDS,
  filterSubjectFor,
  isEventKind,
  parseSubject,
  STREAM_NAME,
  SUBJECT_PREFIX,
  SUBJECT_ROOT,
  subjectFor,
} from './subjects';
export type { EventKind, ParsedSubject } from './subjects';
export { DEFAULT_STREAM_MAX_AGE_SECONDS, DUPLICATE_WINDOW_SECONDS } from './jetstream-config';
