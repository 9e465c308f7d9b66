// libs/k8s in folders by concern, lowest first: a folder may import only folders
// before it in this list (and itself), so the runtime reads bottom-up and has no
// cycle. eslint.config.mjs turns it into rules; k8s-folders.test.ts checks that it
// names exactly the folders on disk.
export const K8S_FOLDERS = ['base', 'metrics', 'api', 'observability', 'cache', 'queue', 'recorder', 'lease', 'shards', 'process', 'host'];
