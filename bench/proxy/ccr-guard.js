// Preloaded into claude-code-router by translate.sh (NODE_OPTIONS=--require): its
// 'uncaughtException' and 'unhandledRejection' listeners call `server.logger.error`, which
// 1.0.73 does not have, so the first error a request raises (under 32 connections, one
// does: "Attempted to send payload of invalid type 'object'") ends the whole process
// instead of being logged. Those listeners are wrapped so that their own failure is
// printed and the process goes on serving, as the listeners intend. Nothing else changes.
const on = process.on.bind(process);
process.on = (event, listener) => {
  if (event === "uncaughtException" || event === "unhandledRejection") {
    return on(event, (...args) => {
      try {
        listener(...args);
      } catch {
        console.error("ccr-guard:", event, args[0] && (args[0].stack || args[0]));
      }
    });
  }
  return on(event, listener);
};
