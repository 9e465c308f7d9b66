// deployment-controller: the one writer of the owned objects' spec. Watches
// Deployments (and drift on the managed objects) and makes each Deployment's
// Service and Ingress match its labels; on deletion publishes
// deployment.deleted and removes them. The logic lives in @ekspose/expose.
import { runDeploymentController } from '@ekspose/expose';

await runDeploymentController();
