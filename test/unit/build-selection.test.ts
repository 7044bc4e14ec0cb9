/**
 * npm test runs this suite twice, with PERFLAB_BUILD=gyp and =cmake: prove each
 * run really loads that build's addon and runner, so both builds pass the same tests.
 */
import { describe, expect, it } from 'vitest';
import { bindingPath, loadBinding } from '../../src/native/binding.js';
import { runnerPath, selectedBuild } from '../../src/native/runner.js';

describe('the native build under test', () => {
  it('addon and runner come from the build PERFLAB_BUILD selects', () => {
    const build = selectedBuild();
    const folder = build === 'gyp' ? '/build/Release/' : '/build-cmake/Release/';
    if (process.env.PERFLAB_BUILD) expect(build).toBe(process.env.PERFLAB_BUILD);
    expect(bindingPath()).toContain(folder);
    expect(runnerPath()).toContain(folder);
    const b = loadBinding();
    expect(b.versions().liburing).toMatch(/^\d+\.\d+/);
    expect(typeof b.ioUringProbe().supported).toBe('boolean');
  });
});
