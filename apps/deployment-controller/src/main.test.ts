// The command-line contract of the deployment-controller process (--help, --version, bad settings).
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('deployment-controller');
