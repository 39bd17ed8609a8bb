// @kiln/runtime has no API yet: it arrives with issue 4 (see README.md). Nothing here pretends.
export {};
