import type * as TS from 'typescript';
import type { ApiSymbols } from '../api-symbols.js';
import { decoratorCallee } from '../shapes.js';

/** Modules whose `traced` and `Context` are tstrace's: the package and its subpaths. */
const TSTRACE_MODULE = /^tstrace(?:\/|$)/;

/**
 * Recognises tstrace's `@traced` and `Context` without a type checker, from what one file imports: the
 * source instrumenter sees one file at a time. A name counts when it is bound by an import (or a
 * `require`) of `tstrace`: `import { traced } from 'tstrace'`, renamed (`traced as t`), through a
 * namespace (`import * as tr from 'tstrace'`, `@tr.traced`), or `const { traced } = require('tstrace')`.
 * A user's own `traced`, or one imported from elsewhere, is left alone. Not seen (the type checker of
 * the tsc path sees them): type aliases of `Context` and re-exports through the user's own modules.
 */
export function createSyntacticApiSymbols(ts: typeof TS, file: TS.SourceFile): ApiSymbols {
  const traced = new Set<string>();
  const context = new Set<string>();
  const namespaces = new Set<string>();

  const bindNamed = (imported: string, local: string): void => {
    if (imported === 'traced') traced.add(local);
    if (imported === 'Context') context.add(local);
  };
  const requireOf = (node: TS.Expression | undefined): boolean => {
    while (node && (ts.isAwaitExpression(node) || ts.isParenthesizedExpression(node))) node = node.expression;
    if (!node || !ts.isCallExpression(node)) return false;
    const callee = node.expression;
    const [arg] = node.arguments;
    const isLoader = (ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword;
    return isLoader && !!arg && ts.isStringLiteralLike(arg) && TSTRACE_MODULE.test(arg.text);
  };

  for (const statement of file.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier) && TSTRACE_MODULE.test(statement.moduleSpecifier.text)) {
      const bindings = statement.importClause?.namedBindings;
      if (!bindings) continue;
      if (ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
      else for (const element of bindings.elements) bindNamed((element.propertyName ?? element.name).text, element.name.text);
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) {
      const spec = statement.moduleReference.expression;
      if (ts.isStringLiteral(spec) && TSTRACE_MODULE.test(spec.text)) namespaces.add(statement.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (!requireOf(declaration.initializer)) continue;
        if (ts.isIdentifier(declaration.name)) namespaces.add(declaration.name.text);
        else if (ts.isObjectBindingPattern(declaration.name)) {
          for (const element of declaration.name.elements) {
            if (!ts.isIdentifier(element.name)) continue;
            const property = element.propertyName;
            const imported = property === undefined ? element.name.text : ts.isIdentifier(property) || ts.isStringLiteral(property) ? property.text : '';
            bindNamed(imported, element.name.text);
          }
        }
      }
    }
  }

  /** `name` or `ns.name` for one of tstrace's names. */
  const refersTo = (node: TS.Node, names: ReadonlySet<string>, exported: string): boolean => {
    if (ts.isIdentifier(node)) return names.has(node.text);
    if (ts.isPropertyAccessExpression(node)) return ts.isIdentifier(node.expression) && namespaces.has(node.expression.text) && node.name.text === exported;
    if (ts.isQualifiedName(node)) return ts.isIdentifier(node.left) && namespaces.has(node.left.text) && node.right.text === exported;
    return false;
  };

  const isContextType = (type: TS.TypeNode): boolean => {
    if (ts.isParenthesizedTypeNode(type)) return isContextType(type.type);
    if (ts.isUnionTypeNode(type)) return type.types.some(isContextType);
    return ts.isTypeReferenceNode(type) && type.typeArguments === undefined && refersTo(type.typeName, context, 'Context');
  };

  return {
    isTracedDecorator(decorator: TS.Decorator): boolean {
      const callee = decoratorCallee(ts, decorator);
      return callee.pos >= 0 && refersTo(callee, traced, 'traced');
    },
    isContextParameter(parameter: TS.ParameterDeclaration): boolean {
      return !!parameter.type && ts.isIdentifier(parameter.name) && isContextType(parameter.type);
    },
  };
}
