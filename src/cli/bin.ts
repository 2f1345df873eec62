/** Entry of the `latent-studio` binary (dist/cli.js). */
import { main } from './main';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
