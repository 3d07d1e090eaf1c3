/** `s3nd upload …` runs the CLI; `s3nd` or `s3nd serve` runs the daemon. */
export {};
const [command, ...rest] = process.argv.slice(2);
if (command === 'upload') {
  const { runUpload } = await import('./cli.ts');
  process.exitCode = await runUpload(rest);
} else if (command === undefined || command === 'serve' || command.startsWith('-')) {
  const { runDaemon } = await import('./daemon.ts');
  await runDaemon(command === 'serve' ? rest : process.argv.slice(2), process.env);
} else if (command === 'help' || command === '--help') {
  const { usage } = await import('./cli.ts');
  console.log(`s3nd [serve] [flags]   run the daemon\n${usage}`);
} else {
  console.error(`s3nd: unknown command ${JSON.stringify(command)}: expected upload, serve or none`);
  process.exitCode = 2;
}
