/** What wrangler's default CompiledWasm rule makes of a `*.wasm` import (deploy/workerd.ts). */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
