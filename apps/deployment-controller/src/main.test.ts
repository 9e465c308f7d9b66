// The command-line contract of the deployment-controller process (--help, --version, bad settings).
import { SETTINGS_ENV_VARS } from '@ekspose/expose';
import { describeAppCommandLine } from '@ekspose/testing';

describeAppCommandLine('deployment-controller', SETTINGS_ENV_VARS);
