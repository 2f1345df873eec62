/** Names of the files Latent Studio writes for the user. */

/** A saved graph's file name ends in .latent.json: "x" and "x.json" become "x.latent.json", a doubled suffix is undone. */
export function graphFileName(name: string): string {
  const base = name.replace(/(\.latent\.json)+$/i, '').replace(/\.json$/i, '');
  return `${base}.latent.json`;
}
