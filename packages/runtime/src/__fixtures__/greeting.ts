export interface Greeting {
  to: string;
}

export class Greeter {
  count = 0;
  constructor(readonly prefix: string) {}
  greet(greeting: Greeting): string {
    this.count++;
    return `${this.prefix}, ${greeting.to}`;
  }
}

export const failHere = (): Error => new Error("from greeting.ts");
