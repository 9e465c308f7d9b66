// The command-line contract of the ingress-controller process (--help, --version, bad settings).
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('ingress-controller');
