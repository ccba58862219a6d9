/**
 * Where WGSL comes from. The core never reads files: Node passes a loader over `shaders/`, a page
 * one that fetches the same files, so both run the very same shader text.
 */
export type ShaderLoader = (path: string) => Promise<string> | string;
