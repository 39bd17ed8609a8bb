// @kiln/cli has no API yet: it arrives with issue 5 (see README.md). Nothing here pretends.
export {};
