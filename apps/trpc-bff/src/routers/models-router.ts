import { z } from "zod";
import { protectedProcedure, router } from "../trpc.js";
import { toWebModel, type WebModel } from "../web-types/web-model.js";

/** ModelService: the models the caller's key may use. */
export const modelsRouter = router({
  list: protectedProcedure.query(async ({ ctx, signal }): Promise<WebModel[]> => {
    const { models } = await ctx.call(
      ctx.session.apiKey,
      (options) => ctx.rpc.models.listModels({}, options),
      {
        signal,
      },
    );
    return models.map(toWebModel);
  }),
  get: protectedProcedure
    .input(z.object({ id: z.string().trim().min(1, "a model id").max(256) }))
    .query(async ({ ctx, input, signal }): Promise<WebModel> => {
      const { model } = await ctx.call(
        ctx.session.apiKey,
        (options) => ctx.rpc.models.getModel({ id: input.id }, options),
        { signal },
      );
      if (!model) throw new Error("GetModel answered without a model");
      return toWebModel(model);
    }),
});
