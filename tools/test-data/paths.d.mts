/** The repository root. */
export declare const REPO_ROOT: string;
/** Where fetch.mjs puts everything: <repo>/.data. */
export declare const DATA_DIR: string;
/** The shared reference models: $KILN_MODELS_DIR, else <repo>/../shared/models. */
export declare const MODELS_DIR: string;
/** A file among the shared reference models. */
export declare function sharedModel(file: string): string;
/** A file inside an npm package fetched by fetch.mjs. */
export declare function npmFile(dir: string, ...parts: string[]): string;
/** A file inside a Debian package fetched by fetch.mjs. */
export declare function debFile(name: string, ...parts: string[]): string;
/** Why `path` cannot be used, or undefined when it exists. */
export declare function missingReason(path: string): string | undefined;
/** True when `path` exists; otherwise prints why the caller will skip. */
export declare function haveData(path: string, what?: string): boolean;
