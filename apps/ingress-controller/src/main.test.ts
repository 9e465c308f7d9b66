// The command-line contract of the ingress-controller process (--help, --version, bad settings).
import { SETTINGS_ENV_VARS } from '@ekspose/expose';
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('ingress-controller', SETTINGS_ENV_VARS);
