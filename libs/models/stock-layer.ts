/**
 * The layer classes tfjs-layers registered under a class name, looked up before our own layers
 * (conv-layer.ts, batch-norm-layer.ts, dropout-layer.ts) register replacements under the same
 * name: tfjs-layers does not export the classes themselves.
 */
import { tf } from '../engine/index.js';

/** The class tfjs-layers registered as `className` (call at module load, before re-registering it). */
export function stockLayerClass<T>(className: string): T {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`tfjs-layers registered no ${className} class`);
  return entry[0] as unknown as T;
}
