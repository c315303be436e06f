/** The bounded contexts this deployment runs: the one place that names them. Add a context with one line. */
import type { ContextModule } from "../adapters/context_module.ts";
import { chatModule } from "../adapters/modules/chat.ts";
import { interactionModule } from "../adapters/modules/interaction.ts";
import { userCenterModule } from "../adapters/modules/usercenter.ts";

/** Every registered context, in start order. */
export const modules: readonly ContextModule[] = [
  userCenterModule,
  interactionModule,
  chatModule,
];
