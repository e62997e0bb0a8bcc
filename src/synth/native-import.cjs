// Node's own import(), loaded through require() so that test runners which rewrite or sandbox
// dynamic imports (vitest) leave it alone. Used only to import bundled definition files.
module.exports = (specifier) => import(specifier);
