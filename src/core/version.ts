/** Latent Studio's version, as package.json says it (test/core/version.test.ts keeps them equal): written into generated code and run folders. */
export const LATENT_STUDIO_VERSION = '0.1.0';
