// The command-line contract of the service-controller process (--help, --version, bad settings).
import { SETTINGS_ENV_VARS } from '@ekspose/expose';
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('service-controller', SETTINGS_ENV_VARS);
