// The command-line contract of the service-controller process (--help, --version, bad settings).
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('service-controller');
