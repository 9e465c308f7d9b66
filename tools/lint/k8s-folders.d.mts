// Types of k8s-folders.mjs, for the lint test that reads it.
export declare const K8S_FOLDERS: readonly string[];
