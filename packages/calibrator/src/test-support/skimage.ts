// Locates the natural test images of Debian's python3-skimage, fetched by tools/test-data.
import { debFile, missingReason } from '@kiln/test-data';

/** The skimage data folder (astronaut.png, rocket.jpg, page.png, truncated.jpg, ...). */
export const SKIMAGE_DATA = debFile(
  'python3-skimage',
  'usr/lib/python3/dist-packages/skimage/data',
);

/** Why the skimage tests skip, or undefined when the images are there. */
export const skimageMissing = missingReason(SKIMAGE_DATA + '/astronaut.png');
if (skimageMissing) console.warn(`[skip] python3-skimage images: ${skimageMissing}`);
