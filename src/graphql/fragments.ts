import { Kind, type DocumentNode, type FragmentDefinitionNode } from 'graphql'

/** The named fragments of a document, by name (for the checks that expand spreads). */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const map = new Map<string, FragmentDefinitionNode>()
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) map.set(def.name.value, def)
  return map
}
