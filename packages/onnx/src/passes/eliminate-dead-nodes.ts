import type { Model } from '../ir/model';
import { cleanupGraph } from '../surgery/cleanup';

/** Dead-node elimination: drops nodes, initializers and value_info that no graph output needs. */
export function eliminateDeadNodes(model: Model): Model {
  cleanupGraph(model.graph);
  return model;
}
