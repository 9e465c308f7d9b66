// Types of ensure-node.mjs, for the TypeScript tools that import it (the bench).
export declare const NODE_MAJOR: number;
export declare function pinnedNodeVersion(): string;
export declare function installPinnedNode(): string;
export declare function installNodeBinary(version: string): string;
export declare function ensureNode(): void;
