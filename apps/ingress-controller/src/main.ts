// ingress-controller: puts back a managed Ingress that a user deleted while
// its Deployment still exists and still asks for one (ingReq: needed), and
// leaves it gone after a cascade. Creates only; never patches or deletes.
// The logic lives in @ekspose/expose.
import { ingressKind, runRecreationController } from '@ekspose/expose';

await runRecreationController(ingressKind, 'Recreates a managed Ingress deleted by hand while its Deployment still exists and asks for one.');
