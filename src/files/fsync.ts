/**
 * Durable names: a file created or renamed into a folder survives a power cut only once the
 * folder itself is synced. The one place that knows how.
 */
import { open } from 'node:fs/promises';

/** Makes the names just created, linked or renamed in `directory` durable. */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
