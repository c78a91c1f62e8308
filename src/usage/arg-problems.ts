import { UsageInputError, type ArgProblem } from '../errors.js'

/**
 * What is wrong with one query's arguments, collected so that one answer names every problem: the
 * checks of usage, events and reconciliation add to it instead of throwing the first they meet.
 */
export class ArgProblems {
  private readonly found: ArgProblem[] = []

  get any(): boolean {
    return this.found.length > 0
  }

  add(field: string, message: string): void {
    this.found.push({ field, message })
  }

  /** Runs a check that throws UsageInputError; keeps its problems and answers undefined instead. */
  try<T>(check: () => T): T | undefined {
    try {
      return check()
    } catch (err) {
      if (!(err instanceof UsageInputError)) throw err
      this.found.push(...err.problems)
      return undefined
    }
  }

  /** Throws one UsageInputError naming every problem found, if there is any. */
  throwIfAny(): void {
    const [first, ...rest] = this.found
    if (first) throw new UsageInputError([first, ...rest])
  }

  /** Throws as throwIfAny; otherwise answers `value`, which a check without problems has found. */
  orThrow<T>(value: T | undefined): T {
    this.throwIfAny()
    if (value === undefined) throw new Error('a check answered nothing and reported no problem')
    return value
  }
}
