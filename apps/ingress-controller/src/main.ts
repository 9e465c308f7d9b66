// ingress-controller: puts back a managed Ingress or HTTPRoute that a user
// deleted while its Deployment still exists and still asks for one (ingReq:
// needed), and leaves it gone after a cascade. Creates only; never patches or
// deletes. The logic lives in @ekspose/expose.
import { EXTERNAL_ROUTE_KINDS, runRecreationController } from '@ekspose/expose';

await runRecreationController(
  'ingress-controller',
  EXTERNAL_ROUTE_KINDS,
  'Recreates a managed Ingress or HTTPRoute deleted by hand while its Deployment still exists and asks for one.',
);
