import { afterEach, describe, expect, it } from 'vitest';

import { addonCandidates, addonPackageNames } from './addon-location';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('where the native addon comes from', () => {
  it('names the platform packages, the cuda flavour first unless KILN_ADDON_FLAVOR=cpu', () => {
    const base = `@kiln/core-${process.platform}-${process.arch}`;
    delete process.env.KILN_ADDON_FLAVOR;
    expect(addonPackageNames()).toEqual([`${base}-cuda`, base]);
    process.env.KILN_ADDON_FLAVOR = 'cpu';
    expect(addonPackageNames()).toEqual([base]);
  });

  it('tries KILN_ADDON_PATH, then a source build, then the platform packages', () => {
    process.env.KILN_ADDON_PATH = '/somewhere/kiln.node';
    delete process.env.KILN_ADDON_FLAVOR;
    const where = addonCandidates().map((c) => c.where);
    expect(where).toEqual(['KILN_ADDON_PATH', 'a source build', ...addonPackageNames()]);
    expect(addonCandidates()[1]!.file).toMatch(/build[/\\]Release[/\\]kiln\.node$/);
    delete process.env.KILN_ADDON_PATH;
    expect(addonCandidates()[0]!.where).toBe('a source build');
  });
});
