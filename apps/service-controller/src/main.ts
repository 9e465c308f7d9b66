// service-controller: puts back a managed Service that a user deleted while
// its Deployment still exists, and leaves it gone when the deletion was a
// cascade of the Deployment's own deletion. Creates only; never patches or
// deletes. The logic lives in @ekspose/expose.
import { runRecreationController, serviceKind } from '@ekspose/expose';

await runRecreationController('service-controller', [serviceKind], 'Recreates a managed Service deleted by hand while its Deployment still exists.');
