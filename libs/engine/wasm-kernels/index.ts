/** Registers the project's wasm gradient kernels (filled in by the kernels work). */
export function registerWasmKernels(): void {}
